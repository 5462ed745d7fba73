# The build rule of xsk's node addons, included by each one's Makefile after it sets ADDON (the
# output's name) and SRC. Built against the running node's own headers (Debian's nodejs ships
# them in /usr/include/node), with the C++ API of that node: another node ABI fails to load the
# addon, and xsk falls back (src/sys/native-addon.ts).
OUT ?= ../../dist/native
NODE_INCLUDE ?= $(shell node -p "require('path').resolve(process.execPath, '../../include/node')")
CXXFLAGS ?= -O2 -Wall -Werror -Wno-unused-parameter

$(OUT)/$(ADDON).node: $(SRC) ../addon.mk
	mkdir -p $(OUT)
	$(CXX) $(CXXFLAGS) -std=c++17 -fPIC -shared -I$(NODE_INCLUDE) -o $@ $(SRC)
