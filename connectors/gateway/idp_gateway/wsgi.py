"""``idp_gateway.wsgi:app`` for a production WSGI server, configured from ``IDP_GW_*``:

    gunicorn -k gthread --threads 8 -w 2 -b 127.0.0.1:8700 'idp_gateway.wsgi:app'
"""

from idp_gateway.app import Gateway
from idp_gateway.config import GatewayConfig

app = Gateway(GatewayConfig.from_env())
