# ctest script (cmake -P): install the build into a fresh prefix, then build
# examples/client-consumer against it the way a pipeline author would:
#   find_package(autodistill REQUIRED)
#   target_link_libraries(app PRIVATE autodistill::client)
# and run the result once (a bad spec file must give exit code 3).
#
# Variables: BUILD_DIR, EXAMPLE_DIR, WORK_DIR, GENERATOR, CXX_COMPILER.

foreach(var BUILD_DIR EXAMPLE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_consumer.cmake needs -D${var}=...")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run_step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

run_step("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(installed include/autodistill/client.hpp include/autodistill/study.hpp
        include/autodistill/status.hpp bin/autodistill)
  if(NOT EXISTS ${prefix}/${installed})
    message(FATAL_ERROR "the install lacks ${installed}")
  endif()
endforeach()

run_step("configure the consumer" ${CMAKE_COMMAND} -S ${EXAMPLE_DIR} -B ${consumer_build}
  -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_PREFIX_PATH=${prefix})
run_step("build the consumer" ${CMAKE_COMMAND} --build ${consumer_build} -j2)

file(WRITE ${WORK_DIR}/bad-spec.json "{\"factors\": 3}")
execute_process(COMMAND ${consumer_build}/client-consumer ${WORK_DIR}/bad-spec.json
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 3 OR NOT err MATCHES "field: factors")
  message(FATAL_ERROR "client-consumer on a bad spec: exit ${rc}, stderr: ${err}")
endif()
file(REMOVE_RECURSE ${WORK_DIR})
