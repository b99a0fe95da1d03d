"""pip build hook: ship the ROS interface files, config and models inside the wheel.

They live at the repository root for colcon; the wheel carries a copy in ``soft/_share`` so
that ``pip install .`` works with no ROS and no source tree.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHARED = ('msg', 'srv', 'action', 'config', 'models', 'launch')


class BuildWithShare(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        dest = Path(self.build_lib) / 'soft' / '_share'
        for name in SHARED:
            if (root / name).is_dir():
                shutil.copytree(root / name, dest / name, dirs_exist_ok=True)


setup(cmdclass={'build_py': BuildWithShare})
