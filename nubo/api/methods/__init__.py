"""The API's handlers; importing this package registers every method."""
from nubo.api.methods import acls, groups, system, users  # noqa: F401
