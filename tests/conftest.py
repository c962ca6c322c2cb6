"""The framework's own tests; pytester runs throwaway suites through the installed plugin."""

pytest_plugins = ["pytester"]
