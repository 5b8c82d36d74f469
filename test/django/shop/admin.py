# Two admin sites over the same models: Django's own ModelAdmin ("plain", the oracle)
# and cascade_delete_django's CascadeDeleteAdmin ("cd").
from django.contrib.admin import AdminSite, ModelAdmin

from cascade_delete_django.admin import CascadeDeleteAdmin

from .models import A, B, C, Invoice, Refund, Tag

plain_site = AdminSite(name='plain')
cd_site = AdminSite(name='cd')
for model in (A, B, C, Invoice, Refund, Tag):
    plain_site.register(model, ModelAdmin)
    cd_site.register(model, CascadeDeleteAdmin)
