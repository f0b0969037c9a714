"""The MLflow pyfunc flavour of a failcast model, logged as code (MLflow's models-from-code):
the registry holds this file beside the model's text and JSON files, and no pickle. MLflow
runs this file when it loads the model (``mlflow.pyfunc.load_model``); failcast itself never
imports it, and loads the native files directly (``training.tracking.load_fail_model``)."""

from mlflow.models import set_model

from training.tracking import FailModelPyfunc

set_model(FailModelPyfunc())
