"""viewer.py - scripts/trace-view loaded as a module, for the tests.

scripts/trace-view has no .py suffix (it is a command), so the tests load
it by path instead of importing it.
"""
import importlib.machinery
import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_viewer():
    path = os.path.join(ROOT, "scripts", "trace-view")
    loader = importlib.machinery.SourceFileLoader("trace_view", path)
    spec = importlib.util.spec_from_loader("trace_view", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
