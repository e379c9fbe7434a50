"""Registration: everything is registered on import, re-imports are harmless, clashes name the holder."""
import importlib
import importlib.util
import subprocess
import sys
import types

import pytest
from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY

import basicsr_nafnet
from basicsr_nafnet.registry import RegistryClashError, register


def test_names_are_registered():
    for name in ['ResidualCNN', 'DeblurUNet', 'NAFNet', 'NAFNetLocal', 'Baseline', 'BaselineLocal']:
        assert ARCH_REGISTRY.get(name).__module__.startswith('basicsr_nafnet.archs.')
    assert LOSS_REGISTRY.get('PSNRLoss').__module__ == 'basicsr_nafnet.losses.psnr_loss'


def test_reload_and_import_under_a_second_name_do_not_crash():
    original = ARCH_REGISTRY.get('NAFNet')
    importlib.reload(importlib.import_module('basicsr_nafnet.archs.nafnet_arch'))
    # the same file imported as a top-level module, as `python basicsr_nafnet/...` can do
    for module_name in ['basicsr_nafnet.losses.psnr_loss', 'basicsr_nafnet.archs.local_arch']:
        path = importlib.import_module(module_name).__file__
        spec = importlib.util.spec_from_file_location(module_name.rsplit('.', 1)[-1], path,
                                                      submodule_search_locations=None)
        module = importlib.util.module_from_spec(spec)
        module.__package__ = module_name.rsplit('.', 1)[0]  # its relative imports resolve as usual
        spec.loader.exec_module(module)
    importlib.reload(basicsr_nafnet)
    assert ARCH_REGISTRY.get('NAFNet') is original


def test_a_name_held_by_another_package_is_an_error_naming_it():
    module = types.ModuleType('other_plugin.archs.fancy_arch')
    sys.modules[module.__name__] = module
    try:
        exec('class NAFNet:\n    pass\n', module.__dict__)
        with pytest.raises(RegistryClashError, match="already held by package 'basicsr_nafnet'"):
            register(ARCH_REGISTRY)(module.NAFNet)
    finally:
        del sys.modules[module.__name__]
    assert ARCH_REGISTRY.get('NAFNet').__module__ == 'basicsr_nafnet.archs.nafnet_arch'


def test_fresh_interpreter_import_as_in_the_readme():
    code = ("import basicsr_nafnet; from basicsr.utils.registry import ARCH_REGISTRY; "
            "print(ARCH_REGISTRY.get('NAFNet').__name__)")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'NAFNet'


def test_functional_tensor_is_provided():
    module = importlib.import_module('torchvision.transforms.functional_tensor')
    assert callable(module.rgb_to_grayscale)
    from basicsr_nafnet import compat
    compat.apply()  # idempotent
    assert compat.applied_shims().count('_provide_functional_tensor') <= 1
