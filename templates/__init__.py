"""Built-in Jinja2 templates, shipped inside the wheel as package data."""
