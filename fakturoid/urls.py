app_name = "fakturoid"
urlpatterns: list = []
