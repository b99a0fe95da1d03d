"""Test set-up: the test folder is importable (shared fixtures such as onnx_fixtures)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
