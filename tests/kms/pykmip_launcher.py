#!/usr/bin/python3
"""Test-only PyKMIP launcher: runs PyKMIP's KmipServer (python3-pykmip 0.10)
with two changes a vCenter-style client needs to be tested against:

  --versions 1.1,1.0   restricts the protocol versions the engine speaks (and
                       answers Discover Versions with), the first one being
                       the default; a request with any other version in its
                       header is refused (Invalid Message), as a KMIP 1.1-only
                       key server does.
  --attr-log FILE      implements Add Attribute (KMIP 1.x section 4.13) for
                       Text String custom attributes ("x-..."), which PyKMIP
                       0.10 cannot parse at all: each one is appended to FILE
                       as "UID NAME=VALUE" and logged in the server log, and
                       the protocol version of every request is logged too.
                       That is what the tests read to check the sequence of
                       operations and attributes a client sent.

Every other option is PyKMIP's own (-f CONFIG -l LOG ...), passed through.
Run it with Debian's /usr/bin/python3 (the interpreter that has PyKMIP).
"""
import sys

from kmip.core import attributes as kattributes
from kmip.core import enums, objects, primitives
from kmip.core.factories.payloads import request as request_factory
from kmip.core.messages import contents
from kmip.core.messages.payloads import base
from kmip.core.utils import BytearrayStream
from kmip.services.server import engine as kmip_engine
from kmip.services.server import server as kmip_server


def take_option(argv, name):
    """Removes NAME VALUE from argv and returns VALUE (or None)."""
    if name in argv:
        i = argv.index(name)
        value = argv[i + 1]
        del argv[i:i + 2]
        return value
    return None


argv = sys.argv[1:]
versions = take_option(argv, "--versions")
attr_log = take_option(argv, "--attr-log")


class AddAttributeRequestPayload(base.RequestPayload):
    """Unique Identifier (optional) and one Attribute."""

    def __init__(self):
        super().__init__()
        self.unique_identifier = None
        self.attribute = None

    def read(self, istream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        super().read(istream, kmip_version=kmip_version)
        tstream = BytearrayStream(istream.read(self.length))
        if self.is_tag_next(enums.Tags.UNIQUE_IDENTIFIER, tstream):
            self.unique_identifier = primitives.TextString(
                tag=enums.Tags.UNIQUE_IDENTIFIER)
            self.unique_identifier.read(tstream, kmip_version=kmip_version)
        self.attribute = objects.Attribute()
        self.attribute.read(tstream, kmip_version=kmip_version)
        self.is_oversized(tstream)


class AddAttributeResponsePayload(base.ResponsePayload):
    """Unique Identifier and the Attribute, as the request had them."""

    def __init__(self, unique_identifier, attribute):
        super().__init__()
        self.unique_identifier = unique_identifier
        self.attribute = attribute

    def write(self, ostream, kmip_version=enums.KMIPVersion.KMIP_1_0):
        tstream = BytearrayStream()
        primitives.TextString(
            value=self.unique_identifier,
            tag=enums.Tags.UNIQUE_IDENTIFIER).write(tstream, kmip_version)
        self.attribute.write(tstream, kmip_version=kmip_version)
        self.length = tstream.length()
        super().write(ostream, kmip_version=kmip_version)
        ostream.write(tstream.buffer)


if attr_log:
    request_factory.RequestPayloadFactory._create_add_attribute_payload = (
        lambda self: AddAttributeRequestPayload())

    original_process_operation = kmip_engine.KmipEngine._process_operation

    def process_operation(self, operation, payload):
        if operation != enums.Operation.ADD_ATTRIBUTE:
            return original_process_operation(self, operation, payload)
        self._logger.info("Processing operation: AddAttribute")
        uid = (payload.unique_identifier.value
               if payload.unique_identifier is not None
               else self._id_placeholder)
        # Access control as for Get Attributes: the object must exist and
        # belong to this client.
        self._get_object_with_access_controls(
            uid, enums.Operation.GET_ATTRIBUTES)
        name = payload.attribute.attribute_name.value
        value = payload.attribute.attribute_value.value
        if not name.startswith("x-") or not isinstance(value, str):
            raise kmip_engine.exceptions.InvalidField(
                "only Text String x- attributes are supported here")
        self._logger.info("AddAttribute {0} {1}={2}".format(uid, name, value))
        with open(attr_log, "a") as f:
            f.write("{0} {1}={2}\n".format(uid, name, value))
        # A fresh Attribute: PyKMIP 0.10 re-encodes a decoded 8-byte Text
        # String with 8 bytes of extra padding.
        answer = kattributes.CustomAttribute(value)
        answer.tag = enums.Tags.ATTRIBUTE_VALUE
        return AddAttributeResponsePayload(uid, objects.Attribute(
            attribute_name=objects.Attribute.AttributeName(name),
            attribute_value=answer))

    kmip_engine.KmipEngine._process_operation = process_operation

original_init = kmip_engine.KmipEngine.__init__
original_process_request = kmip_engine.KmipEngine.process_request


def engine_init(self, *args, **kwargs):
    original_init(self, *args, **kwargs)
    if versions:
        wanted = []
        for v in versions.split(","):
            major, minor = v.strip().split(".")
            wanted.append(contents.ProtocolVersion(int(major), int(minor)))
        self._protocol_versions = wanted
        self.default_protocol_version = wanted[0]
        self._protocol_version = wanted[0]


def process_request(self, request, credential=None):
    self._logger.info("Request protocol version: {0}".format(
        request.request_header.protocol_version))
    return original_process_request(self, request, credential)


kmip_engine.KmipEngine.__init__ = engine_init
kmip_engine.KmipEngine.process_request = process_request

sys.argv = [sys.argv[0]] + argv
sys.exit(kmip_server.main())
