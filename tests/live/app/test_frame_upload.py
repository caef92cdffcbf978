"""HostFrames: a tiny img2img frame on the CPU (the path tested here) becomes exactly to_uint8's
pixels; the CUDA branch (pinned memory, one event) is marked unverified and runs only where a GPU is."""

import numpy as np
import pytest
import torch

from live.app.frame_upload import HostFrames
from live.models.generator import to_uint8


def test_a_cpu_frame_is_to_uint8s_pixels():
    image = torch.rand(1, 3, 24, 40, generator=torch.Generator().manual_seed(0)) * 2 - 1
    rgb = HostFrames()(image)
    assert rgb.dtype == np.uint8 and rgb.shape == (24, 40, 3)
    assert np.array_equal(rgb, to_uint8(image))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the pinned-memory branch)")
def test_a_cuda_frame_through_pinned_memory_is_the_same():
    image = torch.rand(1, 3, 24, 40, device="cuda") * 2 - 1
    host = HostFrames()
    first, second = host(image), host(image * 0.5)
    assert np.array_equal(first, to_uint8(image)) and np.array_equal(second, to_uint8(image * 0.5))
