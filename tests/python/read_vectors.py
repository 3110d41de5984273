#!/usr/bin/python3
"""Reads one user vector and one item vector of a StreamRec model from Redis, following
docs/redis-layout.md, and prints them as JSON. Also checks the CRC-32 of the current
snapshot's first chunk, as any reader of chunks should.

Needs python3-redis and python3-protobuf, and Python code generated from protos/ by
    protoc -I protos --python_out=GENERATED streamrec/v1/checkpoint.proto

Usage: read_vectors.py --generated GENERATED --host H --port P --model M --user U --item I
"""
import argparse
import json
import struct
import sys
import zlib


def floats(raw: bytes) -> list:
    """Little-endian float32 bytes to Python floats."""
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generated", required=True, help="directory holding streamrec/v1/checkpoint_pb2.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--password", default=None)
    parser.add_argument("--model", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--item", required=True)
    args = parser.parse_args()

    sys.path.insert(0, args.generated)
    import redis
    from streamrec.v1 import checkpoint_pb2

    r = redis.Redis(host=args.host, port=args.port, password=args.password)
    model = args.model

    # 1. The version readers follow.
    version = r.get("streamrec:{%s}:active" % model).decode()

    # 2. Lookup keys: one GET each, an EntityVector.
    result = {"version": version}
    for kind, entity_id in (("user", args.user), ("item", args.item)):
        raw = r.get("streamrec:%s:%s:%s:%s" % (model, version, kind, entity_id))
        if raw is None:
            result[kind] = None
            continue
        entity = checkpoint_pb2.EntityVector()
        entity.ParseFromString(raw)
        result[kind] = {
            "id": entity.id,
            "dimensions": entity.dimensions,
            "vector": floats(entity.vector),
            "vector_hex": entity.vector.hex().upper(),
            "bias": entity.bias,
            "publish_seq": entity.publish_seq,
        }

    # 3. The manifest, and the checksum of the first snapshot chunk: crc32(value[:-5]) equals the
    #    little-endian uint32 in the last 4 bytes, and the chunk parses as a CheckpointChunk.
    manifest = checkpoint_pb2.Manifest()
    manifest.ParseFromString(r.get("streamrec:{%s:%s}:manifest" % (model, version)))
    chunk_key = "streamrec:%s:%s:snap:%d:chunk:0" % (model, version, manifest.snapshot_id)
    value = r.get(chunk_key)
    stored = struct.unpack("<I", value[-4:])[0]
    chunk = checkpoint_pb2.CheckpointChunk()
    chunk.ParseFromString(value)
    result["manifest"] = {"snapshot_id": manifest.snapshot_id, "publish_seq": manifest.publish_seq, "dimensions": manifest.dimensions}
    result["chunk0"] = {
        "key": chunk_key,
        "crc_ok": value[-5] == 0x7D and zlib.crc32(value[:-5]) == stored == chunk.checksum,
        "rows": len(chunk.ids),
        "first_id": chunk.ids[0] if chunk.ids else None,
        "first_vector_hex": chunk.vectors[: 4 * chunk.dimensions].hex().upper(),
    }
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
