# No models. This module exists so that Django sends this app the post_migrate signal
# (settings.CASCADE_DELETE_SYNC_ON_MIGRATE).
