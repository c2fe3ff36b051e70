"""`apigw-tls discover`: every REST API and custom domain name of an account, as a targets file.

Reads API Gateway's own API (get-rest-apis and get-domain-names, every page; get-base-path-mappings
per domain) in each region asked, and writes the targets file `--apigw-targets` and `scan --targets`
read: each custom domain with its claimed policy and access mode, each REST API's default endpoint
(disabled ones too: their handshake is still judged), and for each domain the APIs mapped under it
as `default_endpoint` alignment pairs. Private APIs are listed as comments: they are reachable only
inside their VPC (use --connect with a VPC endpoint to judge them). The output is sorted, so two
discoveries diff well; `--check FILE` exits 1 when the account drifted from FILE.

boto3 comes with the optional extra `pytest-apigw-tls[aws]`; nothing else imports it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from typing import Any, Iterator

from ..errors import ConfigError

PAGE = 500  # get-rest-apis / get-domain-names page size (the service's largest)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "discover", help="write a targets file from an AWS account's REST APIs and custom domain names",
        description="Read every REST API and custom domain name (with base path mappings) through API Gateway's "
                    "API and write the targets file scan --targets and --apigw-targets read. Needs boto3 "
                    "(pip install 'pytest-apigw-tls[aws]') and read-only credentials (apigateway:GET).")
    parser.add_argument("--region", action="append", default=[], help="a region to read (repeatable)")
    parser.add_argument("--all-regions", action="store_true", help="every region API Gateway is offered in")
    parser.add_argument("--profile", help="the AWS CLI profile to use")
    parser.add_argument("--endpoint-url", help="API Gateway's endpoint (as in the AWS CLI; a reference control plane)")
    parser.add_argument("--connect", metavar="HOST:PORT",
                        help="connect every target here, keeping its own hostname as SNI (a proxy, a VPC endpoint)")
    parser.add_argument("--output", metavar="FILE", help="write the targets file here (default: standard output)")
    parser.add_argument("--check", metavar="FILE", help="compare with an existing targets file; exit 1 on drift")
    parser.set_defaults(run=run_discover)


def run_discover(args: argparse.Namespace) -> int:
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise ConfigError("discover needs boto3: pip install 'pytest-apigw-tls[aws]'") from None
    if args.connect:
        from ..probing.targets import parse_host_port

        parse_host_port(args.connect)
    try:
        session = boto3.session.Session(profile_name=args.profile)
        regions = list(args.region)
        if args.all_regions:
            regions += session.get_available_regions("apigateway")
        if not regions:
            regions = [session.region_name] if session.region_name else []
        if not regions:
            raise ConfigError("give --region (repeatable) or --all-regions")
        tables: list[str] = []
        for region in sorted(set(regions)):
            client = session.client("apigateway", region_name=region, endpoint_url=args.endpoint_url)
            tables += _targets(client, region, args.connect)
    except (BotoCoreError, ClientError) as error:
        raise ConfigError(f"cannot read API Gateway: {error}") from None
    text = "# written by apigw-tls discover\n\n" + "\n".join(tables)
    if args.check:
        return _check(args.check, text)
    from ..reports.document import write_text

    write_text(args.output or "-", text)
    return 0


def _pages(client: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(PaginationConfig={"PageSize": PAGE}, **kwargs):
        yield from page.get("items", [])


def _targets(client: Any, region: str, connect: str | None) -> list[str]:
    """The TOML tables of one region, sorted: default endpoints, then custom domains."""
    tables, apis = [], {}
    for api in _pages(client, "get_rest_apis"):
        endpoint_type = (api.get("endpointConfiguration", {}).get("types") or ["EDGE"])[0]
        hostname = f"{api['id']}.execute-api.{region}.amazonaws.com"
        apis[api["id"]] = hostname
        policy = api.get("securityPolicy") or ("TLS_1_2" if endpoint_type == "PRIVATE" else "TLS_1_0")
        if endpoint_type == "PRIVATE" and not connect:
            tables.append(f"# {hostname}: private API (policy {policy}), reachable only inside its VPC: "
                          "discover again with --connect to a VPC endpoint to judge it\n")
            continue
        disabled = bool(api.get("disableExecuteApiEndpoint"))  # every request 403: no access case can be asked
        tables.append(_table(f"{region}/api/{api['id']}", connect or f"{hostname}:443", hostname, policy,
                             endpoint_type, None if disabled else api.get("endpointAccessMode"), disabled=disabled))
    for domain in _pages(client, "get_domain_names"):
        name = domain["domainName"]
        endpoint_type = (domain.get("endpointConfiguration", {}).get("types") or ["EDGE"])[0]
        address = connect or f"{domain.get('regionalDomainName') or domain.get('distributionDomainName') or name}:443"
        mapped = sorted({m["restApiId"] for m in _pages(client, "get_base_path_mappings", domainName=name)
                         if m.get("restApiId") in apis})
        for api_id in mapped or [None]:
            suffix = f"+{api_id}" if len(mapped) > 1 else ""
            tables.append(_table(f"{region}/domain/{name}{suffix}", address, name,
                                 domain.get("securityPolicy") or "TLS_1_2", endpoint_type,
                                 domain.get("endpointAccessMode"),
                                 default_endpoint=apis[api_id] if api_id else None,
                                 default_endpoint_address=connect if api_id else None))
    return sorted(tables)


def _table(name: str, address: str, sni: str, policy: str, endpoint_type: str, access_mode: str | None,
           default_endpoint: str | None = None, default_endpoint_address: str | None = None,
           disabled: bool = False) -> str:
    lines = ["[[target]]", f"name = {json.dumps(name)}", f"address = {json.dumps(address)}",
             f"sni = {json.dumps(sni)}", f"policy = {json.dumps(policy)}",
             f"endpoint_type = {json.dumps(endpoint_type)}"]
    if access_mode:
        lines.append(f"access_mode = {json.dumps(access_mode)}")
    if default_endpoint:
        lines.append(f"default_endpoint = {json.dumps(default_endpoint)}")
    if default_endpoint_address:
        lines.append(f"default_endpoint_address = {json.dumps(default_endpoint_address)}")
    if disabled:
        lines.insert(0, "# disableExecuteApiEndpoint: the handshake is still judged; every request gets 403, so "
                        "its access mode is not asked")
    return "\n".join(lines) + "\n"


def _check(path: str, text: str) -> int:
    try:
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    if old == text:
        print(f"no drift: the account matches {path}")
        return 0
    sys.stdout.writelines(difflib.unified_diff(old.splitlines(keepends=True), text.splitlines(keepends=True),
                                               fromfile=path, tofile="the account now"))
    return 1
