"""pytest-apigw-tls: prove what a TLS endpoint accepts under an API Gateway TLS security policy."""

from .catalog import Catalog, Group, Policy, Suite, load_catalog
from .codepoints import TlsVersion
from .errors import ApigwTlsError
from .expectations import Expectation, expectations_for

__all__ = ["ApigwTlsError", "Catalog", "Expectation", "Group", "Policy", "Suite", "TlsVersion",
           "expectations_for", "load_catalog"]
