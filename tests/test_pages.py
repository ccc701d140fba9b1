"""The pages' shells: the runner's page and its icon."""


def test_the_pages_have_an_icon(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert b'rel="icon"' in client.get("/").data
