"""Small applications that tests serve, in-process or through ``tornio serve``."""
