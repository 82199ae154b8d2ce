"""Signs in to graphdrive with azure-identity, as a Python program would, and does drive work
through the Microsoft Graph SDK with each credential.

Usage: sign_in.py CONFIG_JSON. The config names the server (https), its CA certificate, the
tenant, a confidential app (id, secret), a public app, a user and password, and a drive id.
Prints one JSON object with what each credential did.
"""

import asyncio
import html.parser
import json
import os
import sys

import msal.authority
import requests
from azure.identity import ClientSecretCredential, DeviceCodeCredential, UsernamePasswordCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


class Inputs(html.parser.HTMLParser):
    """The named inputs of a page's form."""

    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value") or ""


def complete_device_sign_in(cfg, verification_uri, user_code):
    """What the user does in a browser: opens the page, enters the code, signs in."""
    s = requests.Session()
    s.verify = cfg["ca"]
    page = s.get(verification_uri)
    page.raise_for_status()
    form = Inputs()
    form.feed(page.text)
    form.fields.update(user_code=user_code, username=cfg["user"], password=cfg["password"])
    done = s.post(verification_uri, data=form.fields)
    done.raise_for_status()
    assert "You have signed in" in done.text, done.text


def graph(cfg, credential):
    auth = AzureIdentityAuthenticationProvider(credential, scopes=[GRAPH_DEFAULT])
    adapter = GraphRequestAdapter(auth)
    adapter.base_url = cfg["url"] + "/v1.0"
    return GraphServiceClient(request_adapter=adapter)


async def as_user(cfg, credential, name):
    client = graph(cfg, credential)
    drive = await client.me.drive.get()
    items = client.drives.by_drive_id(drive.id).items
    await items.by_drive_item_id(f"root:/{name}.txt:").content.put(f"written with {name}".encode())
    got = await items.by_drive_item_id(f"root:/{name}.txt:").get()
    return {"drive": drive.id, "size": got.size}


async def as_app(cfg, credential):
    client = graph(cfg, credential)
    items = client.drives.by_drive_id(cfg["drive"]).items
    await items.by_drive_item_id("root:/from-daemon.txt:").content.put(b"app-only")
    listing = await items.by_drive_item_id("root").children.get()
    return {"names": sorted(i.name for i in listing.value)}


async def main(cfg):
    # MSAL asks https://HOST/common/userrealm/… on port 443 whatever the authority's port is; a
    # server on another port has no realm to tell, which MSAL otherwise learns from a 404.
    msal.authority.Authority._domains_without_user_realm_discovery.add("127.0.0.1")
    common = dict(authority=cfg["authority"], disable_instance_discovery=True, connection_verify=cfg["ca"])
    out = {}

    daemon = ClientSecretCredential(cfg["tenant"], cfg["app_id"], cfg["app_secret"], **common)
    out["client_secret"] = await as_app(cfg, daemon)
    out["client_secret_token"] = daemon.get_token(GRAPH_DEFAULT).token

    password = UsernamePasswordCredential(
        cfg["public_id"], cfg["user"], cfg["password"], tenant_id=cfg["tenant"], **common
    )
    out["password"] = await as_user(cfg, password, "password")

    device = DeviceCodeCredential(
        client_id=cfg["public_id"],
        tenant_id=cfg["tenant"],
        timeout=60,
        prompt_callback=lambda uri, code, expires: complete_device_sign_in(cfg, uri, code),
        **common,
    )
    out["device"] = await as_user(cfg, device, "device")
    # A second token comes from MSAL's cache or its refresh token, without another sign-in.
    out["device_again"] = bool(device.get_token(GRAPH_DEFAULT).token)
    return out


if __name__ == "__main__":
    config = json.loads(sys.argv[1])
    os.environ["REQUESTS_CA_BUNDLE"] = config["ca"]
    os.environ["SSL_CERT_FILE"] = config["ca"]
    print(json.dumps(asyncio.run(main(config))))
