"""Request signing for private buckets, with botocore's SigV4 signer (the optional ``s3`` extra)."""
from __future__ import annotations

import logging
from typing import Mapping

from flagai_lite.errors import HubError
from flagai_lite.hub.options import HubOptions

logger = logging.getLogger(__name__)


class SigV4Signer:
    """Signs S3 REST requests with ``botocore.auth.S3SigV4Auth`` (SigV4 with the S3 payload header)."""

    def __init__(self, credentials: tuple, region: str) -> None:
        from botocore.auth import S3SigV4Auth
        from botocore.credentials import Credentials

        key, secret, *rest = credentials
        self._auth = S3SigV4Auth(Credentials(key, secret, rest[0] if rest else None), "s3", region)

    def sign(self, method: str, url: str, headers: Mapping[str, str]) -> dict[str, str]:
        """Headers for ``method url`` with Authorization, X-Amz-Date and X-Amz-Content-SHA256 added."""
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method=method, url=url, headers=dict(headers))
        self._auth.add_auth(request)
        return dict(request.headers.items())


def make_signer(options: HubOptions, *, explicit: bool = False) -> SigV4Signer | None:
    """A signer when credentials are configured and botocore is installed, else None (anonymous).

    Raises:
        HubError: credentials were passed explicitly (``explicit``) but botocore is missing.
    """
    if options.credentials is None:
        return None
    try:
        return SigV4Signer(options.credentials, options.region)
    except ImportError:
        message = "signing hub requests needs botocore: pip install 'flagai_lite[s3]'"
        if explicit:
            raise HubError(message) from None
        logger.warning("%s; AWS credentials found in the environment are ignored, requests are anonymous", message)
        return None
