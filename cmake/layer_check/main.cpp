// The program each layer's link check links: it only has to exist. The check is the link itself, which takes every
// object of one layer's library and only the layers below it (cmake/LadleLayers.cmake).
int main() { return 0; }
