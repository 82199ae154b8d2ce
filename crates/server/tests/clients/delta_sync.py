"""Follows a drive with delta through the Microsoft Graph SDK for Python, as a sync client would.

Usage: delta_sync.py BASE_URL TOKEN. The drive holds /tree (made by the caller). The script
enumerates the root with small pages, makes changes through the SDK, then reads the deltaLink,
and prints one JSON object describing what it saw.
"""

import asyncio
import json
import sys

from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.drives.item.items.item.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.models.drive_item import DriveItem
from msgraph.generated.models.folder import Folder


class StaticToken(AccessTokenProvider):
    def __init__(self, token):
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


def entry(item):
    return {
        "id": item.id,
        "name": item.name,
        "parent": item.parent_reference.id if item.parent_reference else None,
        "deleted": item.deleted is not None,
        "folder": item.folder is not None,
    }


async def follow(builder, first):
    """Reads pages from `first` until a deltaLink; returns the entries and the deltaLink."""
    entries, pages, page = [], 0, first
    while True:
        pages += 1
        entries.extend(entry(i) for i in page.value or [])
        if page.odata_next_link:
            assert page.value, "a page with a nextLink holds items"
            page = await builder.with_url(page.odata_next_link).get()
            continue
        return entries, pages, page.odata_delta_link


async def main(base_url, token):
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)))
    adapter.base_url = base_url + "/v1.0"
    client = GraphServiceClient(request_adapter=adapter)

    drive = await client.me.drive.get()
    items = client.drives.by_drive_id(drive.id).items
    root = await client.drives.by_drive_id(drive.id).root.get()
    delta = items.by_drive_item_id(root.id).delta

    config = RequestConfiguration(
        query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(top=2)
    )
    first = await delta.get(request_configuration=config)
    initial, initial_pages, link = await follow(delta, first)

    made = await items.by_drive_item_id(root.id).children.post(DriveItem(name="made by sdk", folder=Folder()))
    uploaded = await items.by_drive_item_id("root:/made by sdk/new.txt:").content.put(b"new")
    gone = await items.by_drive_item_id("root:/tree/a.txt:").get()
    await items.by_drive_item_id(gone.id).delete()

    changes, _, next_link = await follow(delta, await delta.with_url(link).get())
    quiet, _, _ = await follow(delta, await delta.with_url(next_link).get())
    print(json.dumps({
        "root_id": root.id,
        "initial": initial,
        "initial_pages": initial_pages,
        "made_id": made.id,
        "uploaded_id": uploaded.id,
        "gone_id": gone.id,
        "changes": changes,
        "quiet": quiet,
    }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
