"""browser.py - headless Chromium driven through chromedriver's WebDriver
HTTP API, with urllib only; and a small PNG decoder for screenshots.

Chromium runs as root here, on a closed network: it needs --no-sandbox and
the flags that stop it from reaching out (it would hang on connections),
and a fresh profile directory each time."""

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zlib

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
]
KEYS = {"Right": "\ue014", "Left": "\ue012", "Home": "\ue011",
        "End": "\ue010", "Enter": "\ue007", "Shift": "\ue008",
        "PageDown": "\ue00f", "PageUp": "\ue00e"}


class BrowserError(Exception):
    pass


def find(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


def cannot_have():
    """Why Chromium cannot be had here, or None.  Where apt-get exists,
    make deps installs it, so its absence there is a failure, not a skip."""
    if find("chromium", "chromium-browser") and find("chromedriver"):
        return None
    if find("apt-get"):
        return None
    return "chromium and chromedriver are not installed and this system " \
        "has no apt-get to install them"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Browser:
    """One Chromium session; close() ends it and its chromedriver."""

    def __init__(self, timeout=20):
        chromium = find("chromium", "chromium-browser")
        driver = find("chromedriver")
        if chromium is None or driver is None:
            raise BrowserError("chromium or chromedriver is not installed")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="trace-view-chromium-")
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}))
        port = free_port()
        self.base = "http://127.0.0.1:%d" % port
        self.proc = subprocess.Popen([driver, "--port=%d" % port],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.sid = None
        try:
            end = time.monotonic() + timeout
            while True:
                try:
                    if self.call("GET", "/status")["value"].get("ready"):
                        break
                except (OSError, BrowserError):
                    pass
                if time.monotonic() > end or self.proc.poll() is not None:
                    raise BrowserError("chromedriver did not start")
                time.sleep(0.1)
            caps = {"browserName": "chrome", "goog:chromeOptions": {
                "binary": chromium,
                "args": CHROMIUM_FLAGS + ["--user-data-dir=" + self.profile]}}
            value = self.call("POST", "/session", {
                "capabilities": {"alwaysMatch": caps}})["value"]
            self.sid = value["sessionId"]
            self.call("POST", self.s("/timeouts"), {"script": timeout * 1000,
                                                   "pageLoad": timeout * 1000})
        except Exception:
            self.close()
            raise

    def s(self, path):
        return "/session/%s%s" % (self.sid, path)

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method, headers={
                                         "Content-Type": "application/json"})
        try:
            with self.opener.open(req, timeout=self.timeout + 10) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise BrowserError("%s %s: %s" % (method, path,
                                              e.read().decode()[:500]))

    def open(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def js(self, script, *args):
        return self.call("POST", self.s("/execute/sync"),
                         {"script": script, "args": list(args)})["value"]

    def keys(self, *keys):
        """Press keys on the page; "Shift+Right" holds Shift."""
        actions = []
        for key in keys:
            if key.startswith("Shift+"):
                k = KEYS.get(key[6:], key[6:])
                actions += [{"type": "keyDown", "value": KEYS["Shift"]},
                            {"type": "keyDown", "value": k},
                            {"type": "keyUp", "value": k},
                            {"type": "keyUp", "value": KEYS["Shift"]}]
            else:
                for k in ([KEYS[key]] if key in KEYS else list(key)):
                    actions += [{"type": "keyDown", "value": k},
                                {"type": "keyUp", "value": k}]
        self.call("POST", self.s("/actions"), {"actions": [
            {"type": "key", "id": "keyboard", "actions": actions}]})

    def wait(self, what, script, *args, timeout=None):
        """Run script until it returns something true; return that."""
        end = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.js(script, *args)
            if value:
                return value
            if time.monotonic() > end:
                raise BrowserError("timed out waiting for " + what)
            time.sleep(0.05)

    def screenshot(self):
        return base64.b64decode(
            self.call("GET", self.s("/screenshot"))["value"])

    def close(self):
        try:
            if self.sid is not None:
                self.call("DELETE", self.s(""))
        except (OSError, BrowserError):
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


# ------------------------------------------------------------ PNG

def png_pixels(data):
    """(width, height, rows of RGB tuples) of an 8-bit RGB or RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour not in (2, 6) or body[12] != 0:
                raise ValueError("unsupported PNG (depth %d, colour type %d)"
                                 % (depth, colour))
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows
