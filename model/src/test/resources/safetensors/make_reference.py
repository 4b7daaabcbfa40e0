# Writes reference.safetensors with HuggingFace's own writer (pip install safetensors numpy), for
# SafetensorsTest.matchesTheReferenceWriterByteForByte. Rerun only if the tensors below change.
import numpy as np
from safetensors.numpy import save_file

save_file(
    {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([1.5], dtype=np.float32),
        "pma.seed": np.array([[-0.25, 0.5, 1e-8, -3.0e38]], dtype=np.float32),
    },
    "reference.safetensors",
    metadata={"format": "pt"},
)
