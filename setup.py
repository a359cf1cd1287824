"""Build step only (the project is described in pyproject.toml): a wheel carries the
board's own files (code.py, boot.py, settings.toml.example, device/, gateway/, the
requirements-board*.txt lists) in host_tools/board/app/, where host_tools.board.appfiles
finds them, so an installed `cpy-anomaly deploy` works from any folder."""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = ("code.py", "boot.py", "settings.toml.example", "requirements-board.txt",
         "requirements-board-telemetry.txt")  # keep in step with host_tools/board/appfiles.py
DIRS = ("device", "gateway")


class BuildWithBoardFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        app = os.path.join(self.build_lib, "host_tools", "board", "app")
        shutil.rmtree(app, ignore_errors=True)
        os.makedirs(app)
        for name in FILES:
            shutil.copy2(os.path.join(HERE, name), os.path.join(app, name))
        for name in DIRS:
            shutil.copytree(os.path.join(HERE, name), os.path.join(app, name),
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithBoardFiles})
