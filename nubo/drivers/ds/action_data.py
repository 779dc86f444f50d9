"""What a DS action is about, read from its payload.

The core sends OpenNebula's DS_DRIVER_ACTION_DATA: the image (as committed, with its
PATH, SOURCE, FORMAT, SIZE, FS and TARGET_SNAPSHOT) and its datastore (BASE_PATH,
DS_MAD, SAFE_DIRS...). MONITOR sends the datastore alone.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass


class BadPayload(ValueError):
    """The payload is not the XML the action needs; the message says what is missing."""


def _text(node: ET.Element | None, path: str) -> str:
    if node is None:
        return ""
    found = node.find(path)
    return (found.text or "").strip() if found is not None else ""


@dataclass(frozen=True)
class ActionData:
    image: ET.Element | None
    datastore: ET.Element

    @classmethod
    def parse(cls, payload: bytes) -> ActionData:
        try:
            root = ET.fromstring(payload)
        except ET.ParseError as e:
            raise BadPayload(f"payload is not XML: {e}") from None
        datastore = root if root.tag == "DATASTORE" else root.find("DATASTORE")
        if datastore is None:
            raise BadPayload("payload has no DATASTORE")
        image = root if root.tag == "IMAGE" else root.find("IMAGE")
        return cls(image, datastore)

    # the datastore --------------------------------------------------------------
    @property
    def ds_id(self) -> str:
        return _text(self.datastore, "ID")

    @property
    def ds_mad(self) -> str:
        return _text(self.datastore, "DS_MAD") or _text(self.datastore, "TEMPLATE/DS_MAD")

    @property
    def tm_mad(self) -> str:
        return _text(self.datastore, "TM_MAD") or _text(self.datastore, "TEMPLATE/TM_MAD")

    @property
    def base_path(self) -> str:
        return _text(self.datastore, "BASE_PATH")

    def ds_attr(self, name: str) -> str:
        return _text(self.datastore, f"TEMPLATE/{name}")

    # the image ------------------------------------------------------------------
    def image_attr(self, name: str) -> str:
        """A top-level image attribute (PATH, SOURCE, SIZE...), else its TEMPLATE's."""
        return _text(self.image, name) or _text(self.image, f"TEMPLATE/{name}")

    @property
    def size_mb(self) -> int:
        text = self.image_attr("SIZE")
        try:
            return int(text)
        except ValueError:
            raise BadPayload(f"image SIZE is not a number: {text!r}") from None
