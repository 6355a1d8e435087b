// luksfs's own qcow2 header extension: the KMS binding record (the
// luksfs-kms JSON of fs/image/kms_binding.h) kept INSIDE a qcow2+LUKS image,
// so it travels with the file (and with an S3 object) instead of sitting in
// a sidecar beside it.
//
// On disk (qcow2 specification, docs/interop/qcow2.txt, "Header
// extensions"): type 0x4c4b4d53 ("LKMS"), length N, then N bytes: the JSON
// text followed by zero or more NUL bytes (padding, ignored), then the
// specification's padding to a multiple of 8. qemu keeps extensions it
// does not know and writes them back whenever it rewrites the header
// (qemu-img check -r, amend, resize, snapshot), so the record survives
// qemu's tools; doc/formats.md records what was verified with qemu 7.2.
//
// Everything here is pure (no I/O): the container (qcow2_container.cc)
// reads the first cluster, calls these, and writes what they return.
//
// Units: bytes; a "header image" is the first bytes of the file, written
// at offset 0. Thread-safety: reentrant functions.
// Errors: kCorruption (malformed record), kResourceExhausted (the record
// does not fit in the header cluster; the message says what to do).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "fs/image/qcow2_format.h"

namespace luksfs::fs::qcow2 {

inline constexpr uint32_t kExtLuksfsKms = 0x4c4b4d53;  // "LKMS"

// The record's JSON text, trailing NULs removed; nullopt if `h` has no
// luksfs extension. Errors: kCorruption for an empty record or one with a
// NUL inside the text (JSON is not parsed here: BindingFromJson does).
Result<std::optional<std::string>> BindingRecord(const Header& h);

// The header images to write, IN ORDER, each at offset 0 and made durable
// before the next, to set (`json`) or remove (nullopt) the record of the
// image whose header is `h`. Every image is the serialized header
// zero-padded to cover the old header bytes too (at most one cluster).
//
// Why a torn write is harmless: extensions are rewritten in their order,
// so every byte before the luksfs record (fixed header, LUKS FDE
// extension, feature table) is the same in the old and new images, and a
// torn write can only mix old and new bytes from the record's offset on.
// The record is length-stable: a new record keeps the old length (NUL
// padded) when it fits, and one that grows is written in two steps (first
// the old text at the new length, then the new text), so in every mix the
// extension chain still ends in bounds and qemu opens the image; at worst
// the JSON is torn, which luksfs reports as an unreadable binding (and
// `luksfs unbind` repairs). Removal writes the end marker where the record
// began; a mix leaves the old record (whole or torn), never a bad chain.
//
// Errors: kResourceExhausted when the record does not fit in the header
// cluster ("needs N bytes, M free in the 512-byte header cluster").
Result<std::vector<std::vector<uint8_t>>> PlanBindingWrites(
    const Header& h, std::optional<std::string_view> json);

}  // namespace luksfs::fs::qcow2
