-- A second database for MLflow's tracking store, beside qiloop's own (POSTGRES_DB).
CREATE DATABASE mlflow OWNER qiloop;
