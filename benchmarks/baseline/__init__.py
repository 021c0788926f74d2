"""The machine's own limit: a minimal Django/DRF app served exactly like the API.

Three endpoints: GET /tiny (a tiny JSON body), POST /recover (recovers one signer with
chain.signatures.recover_signer) and GET /row/<id> (reads one Balance row with the ORM).
"""
