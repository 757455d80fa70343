"""karena.reward.dpo imports without torch and says how to install the extra."""

from __future__ import annotations

import subprocess
import sys

BLOCK_TORCH = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'diffusers'):
            raise ModuleNotFoundError(name)
        return None
sys.meta_path.insert(0, Block())
"""


def test_dpo_package_imports_cleanly_without_torch() -> None:
    code = BLOCK_TORCH + (
        "import importlib.util as u\n"
        "u.find_spec = (lambda f: (lambda n, *a: None if n.split('.')[0] in ('torch','diffusers')"
        " else f(n, *a)))(u.find_spec)\n"
        "import karena.reward, karena.reward.dpo as dpo\n"
        "from karena.errors import ConfigError\n"
        "cfg = dpo.DPOConfig(variant='gap_weighted')\n"
        "assert not dpo.train_available()\n"
        "try:\n"
        "    dpo.DiffusionDPOTrainer\n"
        "except ConfigError as exc:\n"
        "    print(exc.message)\n"
        "assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'karena[train]'" in out.stdout


def test_reward_core_does_not_import_torch() -> None:
    code = "import sys, karena.reward, karena.reward.dpo; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
