from django.urls import path

from shop.admin import cd_site, plain_site

urlpatterns = [path('plain/', plain_site.urls), path('cd/', cd_site.urls)]
