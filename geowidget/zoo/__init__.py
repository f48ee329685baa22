"""The bundled demo zoo: small MNIST classifiers, their seeded training code and weights.

- :mod:`geowidget.zoo.models`: architectures (``mlp``, ``lenet``, ``wide_cnn``);
- :mod:`geowidget.zoo.training`: :func:`~geowidget.zoo.training.train_classifier`.
"""
