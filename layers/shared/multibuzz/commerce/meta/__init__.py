"""Meta ad accounts: connect, insights syncs (``meta_7d_fill``, ``meta_fresh``) through the Graph API."""
