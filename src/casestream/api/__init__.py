"""HTTP API: FastAPI routers over the CaseHistory application and the read models."""
