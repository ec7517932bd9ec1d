from tornio import BaseNamespace


class HelloNamespace(BaseNamespace):
    def on_hello(self, name: str) -> str:
        # A client's emit("hello", name, callback): the return value is its ack.
        return f"Hello, {name}!"


namespaces = {"/hello": HelloNamespace}
