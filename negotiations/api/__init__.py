"""WHAT: the REST API of the negotiations app: views, input and output serializers, access by token, schema."""
