def test_it_redirects_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_shows_the_login_page(db, client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content
