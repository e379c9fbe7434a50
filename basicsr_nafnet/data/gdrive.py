"""Google Drive downloads: the file's direct URL and the confirmation page Drive puts in front of large files.

Drive answers a direct download of a file too large for its virus scan with an HTML page instead of the file.
The page carries a token to send back: as a form (fields such as ``id``, ``export``, ``confirm``, ``uuid``,
posted to a download endpoint), as a link whose query holds ``confirm=``, or (older pages) as a
``download_warning*`` cookie. :func:`confirm_url` reads any of the three and returns the URL that yields the file.
"""
import html.parser
import urllib.parse

__all__ = ['drive_download_url', 'drive_page_url', 'confirm_url']


def drive_download_url(file_id):
    """The direct download URL of a Drive file."""
    return 'https://drive.google.com/uc?' + urllib.parse.urlencode({'export': 'download', 'id': file_id})


def drive_page_url(file_id):
    """The page a person opens in a browser to download the file by hand."""
    return f'https://drive.google.com/file/d/{file_id}/view'


class _FormsAndLinks(html.parser.HTMLParser):
    """Collects every form (action and named input values) and every link target of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self.links = [], []
        self._form = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'form':
            self._form = {'action': attrs.get('action') or '', 'id': attrs.get('id') or '', 'fields': []}
            self.forms.append(self._form)
        elif tag == 'input' and self._form is not None and attrs.get('name'):
            if (attrs.get('type') or 'text').lower() not in ('submit', 'button', 'image', 'reset'):
                self._form['fields'].append((attrs['name'], attrs.get('value') or ''))
        elif tag == 'a' and attrs.get('href'):
            self.links.append(attrs['href'])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == 'form':
            self._form = None


def _with_query(url, fields):
    """``url`` with ``fields`` added to its query (a field already in the query is replaced)."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    query.update(fields)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def confirm_url(page, base_url, cookies=None):
    """The URL that downloads the file behind a Drive confirmation page, or None if ``page`` has no token.

    Args:
        page (str): The HTML the first request returned.
        base_url (str): The URL that returned it (relative actions and links are resolved against it).
        cookies (dict | None): Cookies the response set, by name.

    Returns:
        str | None: A form's action with its fields as the query, a ``confirm=`` link, or ``base_url`` with the
        token of a ``download_warning*`` cookie; None when none of these is on the page.
    """
    parser = _FormsAndLinks()
    parser.feed(page)
    parser.close()
    for form in parser.forms:
        names = {name for name, _ in form['fields']}
        if 'confirm' in names or form['id'] == 'download-form':
            return _with_query(urllib.parse.urljoin(base_url, form['action'] or base_url), form['fields'])
    for link in parser.links:
        if 'confirm' in dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query)):
            return urllib.parse.urljoin(base_url, link)
    for name, value in (cookies or {}).items():
        if name.startswith('download_warning'):
            return _with_query(base_url, {'confirm': value})
    return None
