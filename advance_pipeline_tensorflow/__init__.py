"""Keras model builders for advanced_algorithm_keras_pipeline.ipynb."""
