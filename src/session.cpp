// The backend's cascade_delete state (see session.hpp).
#include "session.hpp"

namespace cd {
Session session;
}
