"""The app's exceptions live in negotiations/exceptions.py, end in Error and say who raises them."""

import importlib
import inspect
import pkgutil

import negotiations
from negotiations import exceptions


def app_modules():
    for info in pkgutil.walk_packages(negotiations.__path__, "negotiations."):
        if ".migrations" not in info.name:
            yield importlib.import_module(info.name)


def test_every_exception_class_of_the_app_is_defined_in_the_exceptions_module_and_ends_in_error():
    defined = {
        (module.__name__, name)
        for module in app_modules()
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__
    }
    assert defined == {("negotiations.exceptions", name) for name in exceptions.__all__}
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert name.endswith("Error") and (cls.__doc__ or "").strip()
