"""Drives graphdrive with the Microsoft Graph SDK for Python, as an application would.

Usage: sdk_smoke.py BASE_URL TOKEN. Prints one JSON object describing what the SDK saw.
"""

import asyncio
import json
import sys

import httpx

from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import HeadersInspectionHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.drives.item.items.item.copy.copy_post_request_body import CopyPostRequestBody
from msgraph.generated.models.drive_item import DriveItem
from msgraph.generated.models.folder import Folder
from msgraph.generated.models.item_reference import ItemReference


class StaticToken(AccessTokenProvider):
    def __init__(self, token):
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


async def main(base_url, token):
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)))
    adapter.base_url = base_url + "/v1.0"
    client = GraphServiceClient(request_adapter=adapter)

    drive = await client.me.drive.get()
    items = client.drives.by_drive_id(drive.id).items
    root = await client.drives.by_drive_id(drive.id).root.get()

    folder = await items.by_drive_item_id(root.id).children.post(
        DriveItem(name="sdk folder", folder=Folder(), additional_data={"@microsoft.graph.conflictBehavior": "fail"})
    )
    uploaded = await items.by_drive_item_id("root:/sdk folder/hello.txt:").content.put(b"hello from the sdk")
    nested = await items.by_drive_item_id("root:/sdk folder/deeper/note.md:").content.put(b"# note")
    listing = await items.by_drive_item_id(folder.id).children.get()
    by_path = await items.by_drive_item_id("root:/sdk folder/hello.txt:").get()

    # Server-side copy: the SDK returns nothing on 202, so read Location through the headers
    # inspection option, then poll the monitor (no token) until the copy completes.
    headers = HeadersInspectionHandlerOption(inspect_response_headers=True)
    await items.by_drive_item_id(folder.id).copy.post(
        CopyPostRequestBody(parent_reference=ItemReference(drive_id=drive.id, id=root.id), name="sdk copy"),
        request_configuration=RequestConfiguration(options=[headers]),
    )
    monitor = next(iter(headers.response_headers.get("location")))
    status = await poll(monitor)
    copied = await items.by_drive_item_id(status["resourceId"]).children.get()

    print(json.dumps({
        "drive_id": drive.id,
        "drive_type": drive.drive_type,
        "folder_id": folder.id,
        "folder_name": folder.name,
        "uploaded_id": uploaded.id,
        "uploaded_size": uploaded.size,
        "uploaded_quickxor": uploaded.file.hashes.quick_xor_hash,
        "nested_parent_path": nested.parent_reference.path,
        "children": sorted(c.name for c in listing.value),
        "by_path_id": by_path.id,
        "copy_status": status["status"],
        "copy_name": (await items.by_drive_item_id(status["resourceId"]).get()).name,
        "copy_children": sorted(c.name for c in copied.value),
    }))


async def poll(monitor):
    """Polls a monitor URL without credentials, as the Graph docs tell clients to."""
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            status = (await http.get(monitor)).json()
            if status["status"] in ("completed", "failed"):
                return status
            await asyncio.sleep(0.05)
    raise TimeoutError(monitor)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
