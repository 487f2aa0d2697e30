"""The knowledge base: articles on disk and in the database, and the vector index over them."""
