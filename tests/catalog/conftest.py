from tests.trust.conftest import space

__all__ = ["space"]
