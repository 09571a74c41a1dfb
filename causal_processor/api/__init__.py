"""The kprobe API: gRPC, gRPC-Web, JSON over HTTP and a live WebSocket on one port.

Transport code (grpc_server, http_app, grpcweb, websocket, front) is generic
over the method table in `registry`; what each method does lives in
`services/`, written against the small backend Protocols in `backends`.
"""
