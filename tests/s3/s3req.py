#!/usr/bin/python3
"""Tiny signed S3 client for the tests (stdlib only; path-style; SigV4 written from the spec).

  s3req.py mb BUCKET                 create a bucket
  s3req.py put BUCKET KEY FILE       upload FILE (single PUT)
  s3req.py get BUCKET KEY FILE       download to FILE
  s3req.py head BUCKET KEY           print "SIZE ETAG"
  s3req.py uploads BUCKET            print the ListMultipartUploads XML
Environment: S3_ENDPOINT (http://127.0.0.1:7480), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_REGION (us-east-1). Exit 1 with the server's answer on any non-2xx status.
"""
import datetime, hashlib, hmac, http.client, os, sys, urllib.parse


def request(method, path, body=b"", out=None, query=""):
    ep = urllib.parse.urlparse(os.environ.get("S3_ENDPOINT", "http://127.0.0.1:7480"))
    ak, sk = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    region = os.environ.get("AWS_REGION", "us-east-1")
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    uri = urllib.parse.quote(path, safe="/-_.~")
    headers = {"host": ep.netloc, "x-amz-date": amz, "x-amz-content-sha256": payload}
    names = sorted(headers)
    canon = "\n".join([method, uri, query, *[f"{n}:{headers[n]}" for n in names], "",
                       ";".join(names), payload])
    scope = f"{day}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    key = ("AWS4" + sk).encode()
    for part in (day, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={ak}/{scope},"
                                f"SignedHeaders={';'.join(names)},Signature={sig}")
    conn = http.client.HTTPConnection(ep.hostname, ep.port or 80, timeout=120)
    conn.request(method, uri + ("?" + query if query else ""), body=body, headers=headers)
    r = conn.getresponse()
    if r.status // 100 != 2:
        sys.exit(f"s3req: {method} {path}: HTTP {r.status} {r.read()[:300]!r}")
    if out:
        with open(out, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
    else:
        r.read()
    return r


def main(a):
    if a[0] == "mb":
        request("PUT", f"/{a[1]}")
    elif a[0] == "put":
        with open(a[3], "rb") as f:
            request("PUT", f"/{a[1]}/{a[2]}", f.read())
    elif a[0] == "get":
        request("GET", f"/{a[1]}/{a[2]}", out=a[3])
    elif a[0] == "head":
        r = request("HEAD", f"/{a[1]}/{a[2]}")
        print(r.getheader("Content-Length"), r.getheader("ETag"))
    elif a[0] == "uploads":
        request("GET", f"/{a[1]}", out="/dev/stdout", query="uploads=")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
