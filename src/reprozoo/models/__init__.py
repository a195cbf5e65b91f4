"""Image classifier architectures, each a small factory registered by name (models/registry.py).

Importing this package imports every architecture module, which registers its factories.
"""

from reprozoo.models import advanced, cnn, mlp, recurrent, transfer  # noqa: F401  (registers them)
from reprozoo.models.registry import MODELS, check_model, create_model, register_model  # noqa: F401
