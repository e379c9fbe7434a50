"""A file server on 127.0.0.1 for the download and zoo tests: files by path, Range, cut transfers, a Drive page.

``server.files`` maps a path to bytes; ``server.requests`` lists (path, Range header) of every GET. ``/uc?id=ID``
answers with a confirmation page (a form with ``id``, ``export``, ``confirm``, ``uuid``, as Drive's) whose
submission to ``/download`` yields ``server.files['/drive/ID']``; ``/uc-cookie?id=ID`` uses the older cookie flow.
"""
import http.server
import re
import socket
import threading
import time
import urllib.parse

import torch

TOKEN, UUID = 't0k3n', '8c0e7e0a-0000-4000-8000-000000000000'
CONFIRM_PAGE = '''<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<p>Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="/download" method="get">
<input type="submit" id="uc-download-link" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="{token}"><input type="hidden" name="uuid" value="{uuid}">
</form></body></html>'''


class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):
        server = self.server
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        server.requests.append((parts.path, self.headers.get('Range')))
        if parts.path == '/uc':
            return self._page(CONFIRM_PAGE.format(id=query.get('id'), token=TOKEN, uuid=UUID))
        if parts.path == '/uc-cookie':
            if f'download_warning_1={TOKEN}' in (self.headers.get('Cookie') or '') and query.get('confirm') == TOKEN:
                return self._file(server.files.get('/drive/' + query.get('id', '')))
            return self._page('<html><body>too large to scan</body></html>',
                              cookie=f'download_warning_1={TOKEN}; Path=/')
        if parts.path == '/download':
            if query.get('confirm') != TOKEN or query.get('uuid') != UUID:
                return self._page('<html><body>token missing</body></html>')
            return self._file(server.files.get('/drive/' + query.get('id', '')))
        return self._file(server.files.get(parts.path))

    def _page(self, text, cookie=None):
        body = text.encode('utf-8')
        self.send_response(200)
        self.send_header('Content-Type', 'text/html; charset=utf-8')
        if cookie:
            self.send_header('Set-Cookie', cookie)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, payload):
        if payload is None:
            self.send_error(404)
            return
        start = 0
        match = re.match(r'bytes=(\d+)-$', self.headers.get('Range') or '')
        if match and self.server.honour_range:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header('Content-Range', f'bytes {start}-{len(payload) - 1}/{len(payload)}')
        else:
            self.send_response(200)
        body = payload[start:]
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.server.cut_next:
            self.server.cut_next = False
            self.wfile.write(body[:len(body) // 2])  # then the connection closes mid-transfer
            self.wfile.flush()
            self.close_connection = True
            return
        for i in range(0, len(body), 4096):  # slow enough, when asked, for a second process to find the lock held
            self.wfile.write(body[i:i + 4096])
            time.sleep(self.server.chunk_delay)

    def log_message(self, *args):
        pass


def start_server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    httpd.files, httpd.requests, httpd.cut_next, httpd.chunk_delay = {}, [], False, 0.0
    httpd.honour_range = True  # False: a server that ignores Range and always sends the whole file
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def url(httpd, path):
    return f'http://127.0.0.1:{httpd.server_address[1]}{path}'


def closed_port_url(path='/weights.pth'):
    """A URL on 127.0.0.1 where nothing listens: the connection is refused at once, as offline."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    return f'http://127.0.0.1:{port}{path}'


def checkpoint_bytes(obj, tmp_path, name='ckpt.pth'):
    path = tmp_path / name
    torch.save(obj, path)
    return path.read_bytes()
