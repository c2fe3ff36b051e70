"""`apigw-tls admin`: send update-rest-api / update-domain-name patch operations to a reference server."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pytest_apigw_tls.errors import ConfigError, TargetError

_OPERATIONS = {
    "get-rest-api": ("GET", "restapis", "rest_api_id", "GetRestApi"),
    "update-rest-api": ("PATCH", "restapis", "rest_api_id", "UpdateRestApi"),
    "get-domain-name": ("GET", "domainnames", "domain_name", "GetDomainName"),
    "update-domain-name": ("PATCH", "domainnames", "domain_name", "UpdateDomainName"),
}


def register(commands: Any) -> None:
    admin = commands.add_parser("admin", help="change a running reference server as API Gateway's API would",
                                description="Send get/update operations to the admin endpoint of `apigw-tls serve "
                                            "--admin-port`, in the shape of the AWS CLI's apigateway commands.")
    admin.add_argument("operation", choices=sorted(_OPERATIONS))
    admin.add_argument("--url", required=True, help="admin endpoint printed by `apigw-tls serve`")
    admin.add_argument("--rest-api-id", help="REST API id (first label of its default endpoint hostname)")
    admin.add_argument("--domain-name", help="custom domain name")
    admin.add_argument("--patch-operations", metavar="JSON", help='e.g. \'[{"op":"replace","path":"/securityPolicy",'
                                                                  '"value":"SecurityPolicy_TLS13_1_3_2025_09"}]\'')
    admin.set_defaults(run=run_admin)


def run_admin(args: argparse.Namespace) -> int:
    method, collection, id_option, aws_name = _OPERATIONS[args.operation]
    resource_id = getattr(args, id_option)
    if not resource_id:
        raise ConfigError(f"{args.operation} needs --{id_option.replace('_', '-')}")
    body = None
    if method == "PATCH":
        try:
            body = json.dumps({"patchOperations": json.loads(args.patch_operations or "")}).encode()
        except ValueError as error:
            raise ConfigError(f"--patch-operations is not JSON: {error}") from None
    try:
        parsed = urllib.parse.urlsplit(args.url)
        scheme, hostname = parsed.scheme, parsed.hostname
    except ValueError:  # "http://[::1" and kin: urlsplit refuses them
        scheme = hostname = None
    if hostname is None or scheme not in ("http", "https"):
        raise ConfigError(f"--url {args.url!r} is not an http:// URL "
                          "(use the admin endpoint `apigw-tls serve` printed)")
    url = f"{args.url.rstrip('/')}/{collection}/{urllib.parse.quote(resource_id)}"
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(json.dumps(json.load(response), indent=2))
            return 0
    except urllib.error.HTTPError as error:
        try:
            detail = json.load(error)
        except ValueError:
            detail = {"__type": f"HTTP {error.code}", "message": error.reason}
        print(f"An error occurred ({detail.get('__type')}) when calling the {aws_name} operation: "
              f"{detail.get('message')}", file=sys.stderr)
        return 2
    except (urllib.error.URLError, OSError) as error:
        raise TargetError(f"cannot reach the admin endpoint {args.url}: {getattr(error, 'reason', error)}") from None
