"""The connection options every command that talks to S3 takes (--account,
--profile, --endpoint-url, --region, TLS and store quirks), and the Endpoint
they make: a saved account or the standard AWS chain, with the options
given on top, each value checked with a sentence."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mpugui.core.accounts import AccountStore
from mpugui.core.s3.endpoint import (
    Endpoint,
    validate_ca_bundle,
    validate_endpoint_url,
    validate_region,
)


def add_endpoint_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection (default: the standard AWS chain)")
    g.add_argument("--account", help="a saved account (as added in the app)")
    g.add_argument("--profile", help="an AWS config profile (SSO included)")
    g.add_argument("--endpoint-url", help="an S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    g.add_argument("--region")
    g.add_argument("--path-style", action="store_true", help="path-style addressing")
    g.add_argument("--checksum-when-required", action="store_true",
                   help="send no checksum header the store did not ask for (Content-MD5 "
                        "only where S3 requires one): for stores that reject or mis-store "
                        "checksum headers. Uploads then default to --checksum none; an "
                        "explicit --checksum still applies")
    g.add_argument("--equal-parts", action="store_true",
                   help="cut every part but the last to one size (for stores that require "
                        "it; Cloudflare R2 is detected from the URL)")
    g.add_argument("--ca-bundle", help="a CA bundle file for TLS verification")
    g.add_argument("--no-verify-ssl", action="store_true",
                   help="do not verify TLS certificates (unsafe)")


def endpoint_from_args(args: argparse.Namespace) -> Endpoint:
    if getattr(args, "account", None):
        endpoint = AccountStore().get(args.account).endpoint()
    else:
        endpoint = Endpoint(profile=args.profile)
    changes: dict[str, Any] = {}
    if args.profile:
        changes["profile"] = args.profile
    if args.endpoint_url:
        validate_endpoint_url(args.endpoint_url)
        changes["endpoint_url"] = args.endpoint_url
    if args.region:
        validate_region(args.region)
        changes["region"] = args.region
    if args.path_style:
        changes["path_style"] = True
    if args.checksum_when_required:
        changes["checksum_when_required"] = True
    if args.equal_parts:
        changes["equal_parts"] = True
    if args.ca_bundle:
        validate_ca_bundle(args.ca_bundle)
        changes["ca_bundle"] = args.ca_bundle
    if args.no_verify_ssl:
        changes["verify_tls"] = False
    endpoint = endpoint.with_(**changes)
    if not endpoint.verify_tls:  # by the flag or by the account's setting: always said
        print("warning: TLS certificates will not be verified.", file=sys.stderr)
    return endpoint
